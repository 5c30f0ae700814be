"""Remote help (远程帮办, issue 19) at the operations centre: the signalling hub between
terminals and agents, the queue and its wait estimate, TURN credentials and call records.
The protocol is docs/assist.md; the web side (sockets, the agent's page) is
`opscentre.web.assist`."""
