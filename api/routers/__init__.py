"""The API's routes, one module per area; api/app.py includes them."""
