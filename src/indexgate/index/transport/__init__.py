"""How indexgate's HTTP requests reach the wire (``http11``: the lean HTTP/1.1 client)."""
