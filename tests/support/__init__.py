"""Test support: real servers (Redis, PostgreSQL) started on loopback for the tests."""
