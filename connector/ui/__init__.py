"""The dashboard at `/ui`: server-rendered pages over the store, behind the admin token."""
