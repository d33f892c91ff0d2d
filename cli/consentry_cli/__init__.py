"""`consentry`: the command line for campaign schedulers and operators (a workstation
tool; nothing in functions/ imports it)."""
