"""The static-site generator that publishes each employee's private coaching page."""
