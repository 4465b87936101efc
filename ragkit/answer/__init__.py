"""The answering path: prompts, citation markers, support checks, extractive answers, chat."""
