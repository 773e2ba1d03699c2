"""Streaming bulk writes for large loads (one-form import, the benchmark generator): COPY on PostgreSQL,
batched executemany on SQLite. Rows skip Model.save(), so callers set derived columns (ciphertexts, hashes)."""

from contextlib import contextmanager

from django.db import connection
from psycopg.copy import QueuedLibpqWriter

CHUNK = 50_000


class Table:
    """Streams rows into one model's table: COPY on PostgreSQL, executemany in big batches on SQLite."""

    def __init__(self, model, columns):
        self.model = model
        self.fields = [model._meta.get_field(c) for c in columns]
        # Columns the caller does not name get their model default, so a field added later needs no change here.
        unnamed = [f for f in model._meta.concrete_fields
                   if f not in self.fields and not f.primary_key and (f.has_default() or not f.null)]
        self.defaults = tuple(f.get_default() for f in unnamed)
        self.fields += unnamed
        self.names = [f.column for f in self.fields]
        self.table = model._meta.db_table
        qn = connection.ops.quote_name
        self.into = f"{qn(self.table)} ({', '.join(qn(n) for n in self.names)})"
        self.count = 0
        self.pending = []
        self.copy = None  # the open COPY while streaming()
        ops = connection.ops
        adapters = {"DateTimeField": ops.adapt_datetimefield_value, "DateField": ops.adapt_datefield_value}
        self.adapt = [(i, adapters[f.get_internal_type()]) for i, f in enumerate(self.fields)
                      if f.get_internal_type() in adapters and connection.vendor != "postgresql"]

    def add(self, row):
        row = (*row, *self.defaults) if self.defaults else row
        if self.copy is not None:
            self.copy.write_row(row)
            self.count += 1
            return
        self.pending.append(row)
        if len(self.pending) >= CHUNK:
            self.flush()

    @contextmanager
    def streaming(self):
        """On PostgreSQL, one COPY stays open while rows are added, and a thread sends them: the server stores
        rows while the caller prepares the next ones. No other query may run on the connection meanwhile."""
        if connection.vendor != "postgresql":
            yield self
            self.flush()
            return
        self.flush()
        with connection.cursor() as cursor:
            with cursor.cursor.copy(self._copy_sql(), writer=QueuedLibpqWriter(cursor.cursor)) as copy:
                self.copy = copy
                try:
                    yield self
                finally:
                    self.copy = None

    def _copy_sql(self):
        return f"COPY {self.into} FROM STDIN"

    def flush(self):
        self.write(self.pending)
        self.pending = []

    def write(self, rows):
        rows = list(rows)
        if not rows:
            return
        if self.adapt:
            rows = [list(r) for r in rows]
            for r in rows:
                for i, fn in self.adapt:
                    if r[i] is not None:
                        r[i] = fn(r[i])
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(self._copy_sql()) as copy:
                    for r in rows:
                        copy.write_row(r)
            else:
                marks = ", ".join(["%s"] * len(self.names))
                cursor.executemany(f"INSERT INTO {self.into} VALUES ({marks})", rows)
        self.count += len(rows)
