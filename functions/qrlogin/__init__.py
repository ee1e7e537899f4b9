"""qrlogin: scan-to-log-in as a serverless service (the shared package).

Layers, each readable alone:
- ``config``      settings parsed once from the environment
- ``errors``      domain errors, each with its HTTP status and contract code
- ``sessions``    the session model and state machine (pure, no I/O)
- ``store``       DynamoDB access: every transition is one conditional UpdateItem
- ``service``     the use cases the handlers call
- ``signing``     id_token signing with KMS and the JWKS it publishes
- ``phone_auth``  verification of the phone user's token (jwt | introspection)
- ``qr``          QR rendering (imported only by the issue function)
- ``http``        the shared HTTP resolver setup and request helpers
"""
