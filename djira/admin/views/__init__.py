"""The console's pages and their live parts (polled by htmx every second), one module a page.

Every view is reached through ``ConsoleAdmin.console_view`` (``djira.admin.options``), which
checks staff status and djira's permissions first. Views are sync; ``djira.admin.state``
reads live state on the server's loop. ``common`` holds what every page shares (the admin's
context, the 404 page, keeping the recorder awake) and ``formatting`` turns recorded state
into what the templates show.
"""
