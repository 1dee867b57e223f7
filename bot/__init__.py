"""Lillestrøm kommune resident bot."""
