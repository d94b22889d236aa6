"""Checking that the tracking plan really flows (DESIGN.md section 6): the live inspector, debug
sessions with their test cases, and release verification."""
