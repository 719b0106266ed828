"""kubemu's client-go: what every component is built on (client, informer, workqueue, ...).

Nothing here knows about any one service.
"""
