"""The node's admin HTTP API, its public read endpoint, metrics and backups.

``node.admin.server.serve_admin`` runs them inside the node; ``docs/admin-api.md`` is the contract.
"""
