"""The tracking plan: event and property definitions, versions, compilation and validation."""
