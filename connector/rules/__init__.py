"""User rules: which events go to which actions, and why (`RuleSet.decide`).

`model` holds the config models and the operator semantics, `conditions` the condition tree,
`engine` compiles and evaluates it, `decision` is what gets stored, `links` spots system links.
"""
