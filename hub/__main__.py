"""`python -m hub` is the `passerelle` command."""

from hub.cli import main

main()
