"""localcloud: the whole qrlogin stack on one machine, driven by template.yaml."""
