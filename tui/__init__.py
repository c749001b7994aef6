"""The Textual terminal app (`assistant` with no arguments): see docs/tui.md."""
