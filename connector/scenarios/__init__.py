"""Click scenarios: did not click, clicked by a time, wait for a click, first response and
re-entry. `engine` is what routing calls, `firing` turns due timers into events, `emit`
builds those events, `keys` names rows stably, `selection` says which clicks count."""
