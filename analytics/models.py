from django.db import models


class StorageBackend(models.TextChoices):
    TIMESCALEDB = "timescaledb", "TimescaleDB"
    POSTGRES = "postgres", "PostgreSQL (declarative partitioning)"


class StorageState(models.Model):
    """One row: which event-store backend the migration installed. Decided once, at migrate time."""

    backend = models.CharField(max_length=20, choices=StorageBackend.choices)
    installed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Unmanaged after its creation: `flush` (and every transactional test's teardown) truncates
        # managed tables only, and this row describes the schema, not data.
        managed = False
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="storage_state_single_row")]

    def __str__(self) -> str:
        return self.backend
