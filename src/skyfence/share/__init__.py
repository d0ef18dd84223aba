"""Sharing the picture: TAK/CoT out (cot.py); STIX/TAXII and SAPIENT live beside it."""
