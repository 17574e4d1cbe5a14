"""The test kit: fixtures for the stand-ins and the database, so a new test is three lines.

Each module here is a pytest plugin registered in tests/conftest.py.
"""
