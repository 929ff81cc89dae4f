"""The discharge desk: a small web application where a nurse makes, previews and issues a handout.

It is a front end over the same library as the CLI: builder.handouts renders, deliver.deliver
saves, prints or e-mails and records. See docs/desk.md.
"""

from .app import DeskOptions, create_app, serve

__all__ = ["DeskOptions", "create_app", "serve"]
