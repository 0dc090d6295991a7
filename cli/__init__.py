"""The headless command line: ``ocp-airgap <command>`` (and, with no command, the wizard).

Each command fills a request from its arguments and the plan, calls the same engine use case the wizard calls,
confirms its ``Change``s on the terminal (or with ``--yes``) and prints the events (text or ``--json``). Commands
never import Textual: the wizard is loaded only by ``ocp-airgap`` without a command and by ``demo``.
"""
