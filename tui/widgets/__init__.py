"""The widgets of the main screen: sidebar, conversation, answer, tool cards, prompt, status bar."""
