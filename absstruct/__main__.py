"""``python -m absstruct`` runs the command line."""

from absstruct.cli import main

if __name__ == "__main__":
    main(prog_name="absstruct")
