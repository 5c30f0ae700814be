"""The citizen's side of remote help (远程帮办, docs/assist.md): the help button, the
call's screens, co-fill on the kiosk window."""
