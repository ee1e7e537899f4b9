"""The OAuth 2.0 / OpenID Connect front (DESIGN §8): clients, authorize, grants, tokens.

An authorization request is a session of DESIGN §2 with extra bound fields;
nothing here is a second state machine.
"""
