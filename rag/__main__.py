"""`python -m rag ...` is the `rag` command (rag.cli)."""

from .cli import main

if __name__ == "__main__":
    main()
