"""Identity resolution: distinct ids -> persons, person properties, and linking ids across login.

Runs inside the ingest writer's transaction, on the events that were new (never on a retry), in
event-time order. Rules (PostHog's and Mixpanel's simplified ID merge):

1. Every distinct id belongs to exactly one person; an unseen one gets a new, anonymous person.
2. `$set` overwrites person properties, `$set_once` only fills missing ones.
3. Linking ids X and Y (identify with an anonymous id, alias, `$create_alias`):
   - one of them is unseen: it joins the other's person;
   - both have persons and at most one is identified: the other person is merged into it (its
     distinct ids move, its properties fill gaps, it is deleted);
   - both persons are identified: nothing is merged, an ``IdentityWarning`` is recorded.
4. A distinct id named as a known user (identify, alias target) marks its person identified.

Queries count persons through ``PersonDistinctId`` (always current), or from ``events.person_id``
(the person at ingestion, which a later merge does not rewrite) mapped through ``PersonMerge``.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone

from analytics.ingest.incoming import PersonUpdate
from analytics.models import IdentityWarning, Person, PersonDistinctId, PersonMerge
from analytics.storage.base import EventRecord

_LOCK_CLASS = 7_201  # advisory lock namespace: identity resolution of one project


@dataclass(slots=True)
class _PersonState:
    id: uuid.UUID
    properties: dict | None  # None: not loaded (no event of this batch changes the person)
    is_identified: bool
    is_new: bool
    dirty: bool = False


@dataclass
class _ProjectResolver:
    project_id: int
    now: datetime
    mapping: dict[str, uuid.UUID] = field(default_factory=dict)
    persons: dict[uuid.UUID, _PersonState] = field(default_factory=dict)
    new_distinct_ids: set[str] = field(default_factory=set)
    merged_into: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    warnings: list[IdentityWarning] = field(default_factory=list)

    def load(self, distinct_ids: set[str], *, with_properties: set[str]) -> None:
        """Who the distinct ids are; properties only for the persons this batch may change."""
        rows = PersonDistinctId.objects.filter(
            project_id=self.project_id, distinct_id__in=distinct_ids
        ).values_list("distinct_id", "person_id", "person__is_identified")
        for distinct_id, person_id, is_identified in rows:
            self.mapping[distinct_id] = person_id
            self.persons.setdefault(person_id, _PersonState(person_id, None, is_identified, is_new=False))
        wanted = {self.mapping[d] for d in with_properties if d in self.mapping}
        for person_id, properties in Person.objects.filter(id__in=wanted).values_list("id", "properties"):
            self.persons[person_id].properties = properties or {}

    def person_of(self, distinct_id: str) -> _PersonState:
        person_id = self.mapping.get(distinct_id)
        if person_id is None:
            person_id = uuid.uuid4()
            self.persons[person_id] = _PersonState(person_id, {}, False, is_new=True)
            self._assign(distinct_id, person_id)
        return self.persons[person_id]

    def _assign(self, distinct_id: str, person_id: uuid.UUID) -> None:
        self.mapping[distinct_id] = person_id
        self.new_distinct_ids.add(distinct_id)

    def apply(self, record: EventRecord, update: PersonUpdate) -> None:
        distinct_id = record.distinct_id
        if update.link and update.link != distinct_id:
            self._link(distinct_id, update.link, record.message_id)
        person = self.person_of(distinct_id)
        if update.identify and not person.is_identified:
            person.is_identified = person.dirty = True
        if update.set_once:
            missing = {k: v for k, v in update.set_once.items() if k not in person.properties}
            if missing:
                person.properties.update(missing)
                person.dirty = True
        if update.set:
            person.properties.update(update.set)
            person.dirty = True

    def _link(self, distinct_id: str, other_id: str, message_id: str) -> None:
        mine, theirs = self.mapping.get(distinct_id), self.mapping.get(other_id)
        if mine is None and theirs is None:
            self._assign(other_id, self.person_of(distinct_id).id)
        elif mine is None:
            self._assign(distinct_id, theirs)
        elif theirs is None:
            self._assign(other_id, mine)
        elif mine != theirs:
            person, other = self.persons[mine], self.persons[theirs]
            if person.is_identified and other.is_identified:
                self.warnings.append(
                    IdentityWarning(
                        project_id=self.project_id,
                        kind=IdentityWarning.Kind.BOTH_IDENTIFIED,
                        distinct_id=distinct_id,
                        other_distinct_id=other_id,
                        message_id=message_id,
                        message=(
                            f"{distinct_id!r} and {other_id!r} belong to two different identified users; "
                            "Beacon does not merge identified users on its own. If they are one person, "
                            "merge them by hand; otherwise fix the SDK call that linked them."
                        ),
                    )
                )
                return
            # The anonymous person joins the identified one; with neither identified, theirs joins mine.
            target, source = (other, person) if other.is_identified else (person, other)
            self._merge(source, target)

    def _merge(self, source: _PersonState, target: _PersonState) -> None:
        for distinct_id, person_id in self.mapping.items():
            if person_id == source.id:
                # Stored ids move with the UPDATE in flush(); this batch's are inserted pointing here.
                self.mapping[distinct_id] = target.id
        target.properties = {**source.properties, **target.properties}
        target.is_identified = target.is_identified or source.is_identified
        target.dirty = True
        del self.persons[source.id]
        if not source.is_new:
            self.merged_into[source.id] = target.id

    def _final(self, person_id: uuid.UUID) -> uuid.UUID:
        while person_id in self.merged_into:
            person_id = self.merged_into[person_id]
        return person_id

    def flush(self) -> None:
        """Write what changed, in foreign-key order."""
        new_persons = [p for p in self.persons.values() if p.is_new]
        Person.objects.bulk_create(
            Person(
                id=p.id,
                project_id=self.project_id,
                properties=p.properties,
                is_identified=p.is_identified,
                created_at=self.now,
                updated_at=self.now,
            )
            for p in new_persons
        )
        for source_id in self.merged_into:
            PersonDistinctId.objects.filter(project_id=self.project_id, person_id=source_id).update(
                person_id=self._final(source_id)
            )
        Person.objects.filter(project_id=self.project_id, id__in=list(self.merged_into)).delete()
        if self.merged_into:
            finals = {source_id: self._final(source_id) for source_id in self.merged_into}
            # Earlier merges into a person merged now point to its final person too.
            for source_id, final_id in finals.items():
                PersonMerge.objects.filter(project_id=self.project_id, person_id=source_id).update(
                    person_id=final_id
                )
            PersonMerge.objects.bulk_create(
                [
                    PersonMerge(
                        project_id=self.project_id,
                        old_person_id=source_id,
                        person_id=final_id,
                        merged_at=self.now,
                    )
                    for source_id, final_id in finals.items()
                ],
                update_conflicts=True,
                unique_fields=["project", "old_person_id"],
                update_fields=["person_id", "merged_at"],
            )
        PersonDistinctId.objects.bulk_create(
            PersonDistinctId(
                project_id=self.project_id, distinct_id=distinct_id, person_id=self.mapping[distinct_id]
            )
            for distinct_id in sorted(self.new_distinct_ids)
        )
        changed = [p for p in self.persons.values() if p.dirty and not p.is_new]
        Person.objects.bulk_update(
            [
                Person(id=p.id, properties=p.properties, is_identified=p.is_identified, updated_at=self.now)
                for p in changed
            ],
            ["properties", "is_identified", "updated_at"],
        )
        IdentityWarning.objects.bulk_create(self.warnings)


def resolve_persons(
    records: list[EventRecord], updates: dict[tuple[int, str], PersonUpdate]
) -> list[EventRecord]:
    """Give each new event its person, applying identify/alias/$set events in time order.

    ``updates`` maps (project id, message id) to what that event asks of identity. Must run in a transaction.
    """
    by_project: dict[int, list[EventRecord]] = defaultdict(list)
    for record in records:
        by_project[record.project_id].append(record)
    now = timezone.now()
    resolved: list[EventRecord] = []
    for project_id in sorted(by_project):  # a fixed order: two writers never wait on each other in a cycle
        project_records = sorted(by_project[project_id], key=lambda r: r.time)
        with connection.cursor() as cursor:
            # TRICKY: two writers may resolve the same new distinct id at once; one lock per project
            # serialises them (held until commit), so each sees the other's persons.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, project_id])
        resolver = _ProjectResolver(project_id=project_id, now=now)
        wanted = {r.distinct_id for r in project_records if r.distinct_id}
        changing = set()
        for record in project_records:
            if record.distinct_id and (update := updates.get((project_id, record.message_id))):
                changing.add(record.distinct_id)
                if update.link:
                    changing.add(update.link)
        resolver.load(wanted | changing, with_properties=changing)
        for record in project_records:
            if record.distinct_id is None:
                continue
            update = updates.get((project_id, record.message_id))
            if update is None:
                resolver.person_of(record.distinct_id)
            else:
                resolver.apply(record, update)
        resolver.flush()
        resolved.extend(
            record._replace(person_id=resolver.mapping[record.distinct_id])  # merges keep it current
            if record.distinct_id
            else record
            for record in project_records
        )
    return resolved
