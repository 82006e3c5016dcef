"""nigran's own `scrapy` commands (COMMANDS_MODULE of crawler/scrapy_project.py)."""
