"""Where moto 5.2.5 departs from AWS in ways the local stack and its runs would measure.

- SQS FIFO order: SQS holds a message group while any of its messages is in flight
  (received, not deleted, its visibility timeout running). moto keeps a set of in-flight
  messages that drifts from that: it forgets a message only when its receive loop reaches
  it, so a group handed back whole was delivered from its *last* message; and in a long
  poll, a group whose messages all came back during the wait was delivered from its
  second. Rebuilding the set from the messages' visibility before each pass, and polling
  pass by pass, gives the emulator SQS's order. Passes run one at a time: two receivers
  rebuilding the set together could each take a message of the same group.
- The cost of waiting receivers: moto wakes every long poll of a queue on every send, and
  each woken poll looks over the whole queue; with sixteen workers per queue, fifteen passes
  of every sixteen found nothing. Here a send, a FIFO delete or a visibility change to 0
  wakes one waiting poll (any of them can take what it frees), a poll that fills its request
  passes the wake on, and a poll looks again on its own only once a second, for visibility
  timeouts and delays that ran out.
- SQS FIFO deduplication: SQS drops a message sent with a deduplication id it saw in the
  last 5 minutes, even when that message was received and deleted since. moto compares
  only with the messages still in the queue, and not atomically, so a copy sent after its
  original was dead-lettered (or at the same instant as it) got in. Remembering each id for
  the 5 minutes, under a lock, gives the emulator SQS's window.
- The cost of a DynamoDB transaction: moto backs up every table a TransactWriteItems
  touches by deep-copying it whole, so each transaction costs time and memory in
  proportion to everything stored so far, and a rollback puts the copies back, erasing
  what other threads wrote meanwhile. Backing up only the items the transaction names
  gives the same all-or-nothing result at DynamoDB's cost, whatever the table holds.
- Request routing: for every request, moto's server lists its own package folder (a
  directory listing and a stat per service) to tell whether the host names a service; the
  list is read once here. That was 3 % of the local stack's time under load.
- The cost of an SQS send or receive: to check a message, moto builds all of its queue's
  attributes, counting every message's visibility three times over (each count a clock
  read per message): sends and receives cost in proportion to the queue's backlog, so a
  backlog slowed the very calls that would drain it. Here the counts are counted only
  where GetQueueAttributes asks for them, and the retention check reads its one attribute.
- A connection per call: moto's server (werkzeug's development server) ends every response
  with `Connection: close`, so each emulated call opened a TCP connection and started a
  server thread, on both sides of it: a quarter of the emulator's CPU under load went to
  sockets, not to AWS. Here a request whose body has a known length keeps its connection
  for the next one, as AWS's endpoints do; what the application left of the body is read
  off first, so the next request starts where it should. Responses are written through a
  buffer (one segment, not two), so the interim `100 Continue` a PutObject waits for is
  flushed as soon as it is written: held back, it cost each PutObject boto3's one-second
  wait, and the mail path's dozens of them a mail.
- The cost of a DynamoDB answer: moto 5.2 writes every answer through its generic
  serializer, which walks the operation's output model member by member (alias lookups,
  name transforms) to rebuild a JSON document its DynamoDB handler had already built in
  DynamoDB's own JSON: a sixth of the emulator's CPU while replies flow. The item
  operations' answers are written as they are (binary values in base64, as the serializer
  writes them); anything else still goes through the serializer.
- The cost of an update expression: moto parses an UpdateItem's expression twice per call
  (once to check the names and values it uses, once to apply it), though the application
  writes a few dozen expressions in all. Each is parsed once here; every call still
  validates and applies its own copy of the parsed tree, as moto does.
- S3 key length: S3 refuses an object key of more than 1,024 bytes (KeyTooLongError); moto
  stores it. Refusing it here makes a key built from a name someone else chose fail in
  tests as it would in AWS.
"""

import base64
import copy
import io
import json
import threading
import time
from collections.abc import Callable
from functools import lru_cache, wraps
from itertools import takewhile
from typing import Any

_APPLIED = "_threadline_patched"
# How often a long poll looks at its queue again on its own: it also wakes when a message is
# sent, deleted or made visible; the timed pass catches visibility timeouts and delays ending.
LONG_POLL_PASS_SECONDS = 1.0


def patch_emulator() -> None:
    """Patches moto's backends for this process; applying it twice changes nothing."""
    keep_fifo_group_order()
    deduplicate_for_five_minutes()
    back_up_transactions_by_item()
    refuse_long_object_keys()
    list_services_once()
    check_messages_without_counting_the_queue()
    keep_connections_open()
    answer_dynamodb_items_directly()
    parse_update_expressions_once()


def _mark(function: Callable[..., Any]) -> Callable[..., Any]:
    setattr(function, _APPLIED, True)
    return function


_receive_lock = threading.Lock()


class _Changes:
    """One queue's changes that may let a waiting receiver take something, counted so that a
    receiver that looked before the latest one does not wait for the next."""

    def __init__(self) -> None:
        self.counted = 0
        self._changed = threading.Condition()

    def signal(self) -> None:
        with self._changed:
            self.counted += 1
            self._changed.notify()

    def wait_after(self, counted: int, timeout: float) -> None:
        with self._changed:
            if self.counted == counted:
                self._changed.wait(timeout)


def _changes(queue: Any) -> _Changes:
    changes: _Changes | None = queue.__dict__.get("_threadline_changes")
    if changes is None:
        changes = queue.__dict__.setdefault("_threadline_changes", _Changes())
    return changes


def keep_fifo_group_order() -> None:
    from moto.sqs.models import Queue, SQSBackend

    receive = SQSBackend.receive_message
    if getattr(receive, _APPLIED, False):
        return
    add, delete, change_visibility = (
        Queue.add_message,
        SQSBackend.delete_message,
        SQSBackend.change_message_visibility,
    )

    @wraps(add)
    def add_waking_one(self: Queue, message: Any) -> None:
        add(self, message)
        _changes(self).signal()

    @wraps(delete)
    def delete_waking_one(self: SQSBackend, queue_name: str, receipt_handle: str) -> None:
        queue = self.get_queue(queue_name)
        delete(self, queue_name, receipt_handle)
        # Only a FIFO queue holds messages back for one in flight.
        if queue.fifo_queue:
            _changes(queue).signal()

    @wraps(change_visibility)
    def change_visibility_waking_one(
        self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        change_visibility(self, queue_name, receipt_handle, visibility_timeout)
        # A longer timeout frees nothing; one that ends later is the timed pass's to find.
        if visibility_timeout == 0:
            _changes(self.get_queue(queue_name)).signal()

    @wraps(receive)
    def receive_in_group_order(
        self: SQSBackend,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        # moto's own long poll re-reads the in-flight set midway through a pass, after it
        # has passed over a group's first message: the poll is done here instead, one
        # pass at a time, each on an in-flight set rebuilt from the messages' visibility.
        queue = self.get_queue(queue_name)
        changes = _changes(queue)
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            counted = changes.counted
            with _receive_lock:
                in_flight = {
                    message
                    for message in queue._messages
                    if message.approximate_receive_count and not message.visible
                }
                queue.pending_messages.clear()
                queue.pending_messages.update(in_flight)
                received = receive(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            if len(received) >= count:
                # The wake this poll took may have been for a message still left behind
                # the ones it took (a timeout's or a delay's end signals nothing): pass it on.
                changes.signal()
            left = deadline - time.monotonic()
            if received or left <= 0:
                return received
            changes.wait_after(counted, min(left, LONG_POLL_PASS_SECONDS))

    SQSBackend.receive_message = _mark(receive_in_group_order)  # type: ignore[method-assign]
    Queue.add_message = _mark(add_waking_one)  # type: ignore[method-assign]
    SQSBackend.delete_message = _mark(delete_waking_one)  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = _mark(  # type: ignore[method-assign]
        change_visibility_waking_one
    )


DEDUPLICATION_SECONDS = 300


class _Sending(threading.local):
    active = False


_sending = _Sending()
_sent_ids_lock = threading.Lock()


def deduplicate_for_five_minutes() -> None:
    """Only sends are deduplicated: a message moved to a dead-letter queue keeps its id and
    is not a send."""
    from moto.sqs.models import Queue, SQSBackend

    send, add = SQSBackend.send_message, Queue.add_message
    if getattr(send, _APPLIED, False):
        return

    @wraps(send)
    def send_marked(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        _sending.active = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.active = False

    @wraps(add)
    def add_unless_sent_lately(self: Queue, message: Any) -> None:
        if not (_sending.active and self.fifo_queue and message.deduplication_id):
            add(self, message)
            return
        with _sent_ids_lock:
            sent: dict[str, int] = self.__dict__.setdefault("_threadline_sent_ids", {})
            now = int(message.sent_timestamp)
            window_ms = DEDUPLICATION_SECONDS * 1000
            if now - sent.get(message.deduplication_id, now - window_ms) < window_ms:
                return
            # Ids are remembered in the order they were sent: the stale ones come first.
            for stale in list(takewhile(lambda i: now - sent[i] >= window_ms, sent)):
                del sent[stale]
            sent.pop(message.deduplication_id, None)
            sent[message.deduplication_id] = now
            add(self, message)

    SQSBackend.send_message = _mark(send_marked)  # type: ignore[method-assign]
    Queue.add_message = _mark(add_unless_sent_lately)  # type: ignore[method-assign]


class _Transaction(threading.local):
    active = False


_transaction = _Transaction()


class _CopyKeepingTables:
    """Stands in for the `copy` module in moto's DynamoDB backend: inside a transaction a
    table's whole-table backup is the table itself (its touched items are backed up apart);
    everything else is copied as before."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        if _transaction.active and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _item_key(table: Any, operation: str, request: dict[str, Any]) -> tuple[Any, Any] | None:
    """(hash, range) of the item one transaction entry writes; None when it names no
    valid key (moto then refuses the transaction before writing anything)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    attributes = request.get("Item" if operation == "Put" else "Key") or {}
    if table.hash_key_attr not in attributes:
        return None
    range_value = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attributes:
            return None
        range_value = DynamoType(attributes[table.range_key_attr])
    return DynamoType(attributes[table.hash_key_attr]), range_value


def _restore(items: Any, key: tuple[Any, Any], item: Any) -> None:
    """Puts an item back as it was backed up (None: absent) in moto's table storage, keyed
    by hash value, then by range value where the table has one."""
    hash_value, range_value = key
    place, name = (items, hash_value) if range_value is None else (items[hash_value], range_value)
    place.pop(name, None)
    if item is not None:
        place[name] = item


def back_up_transactions_by_item() -> None:
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend

    transact = DynamoDBBackend.transact_write_items
    if getattr(transact, _APPLIED, False):
        return
    dynamodb_models.copy = _CopyKeepingTables  # type: ignore[attr-defined,assignment]

    @wraps(transact)
    def transact_backing_up_items(
        self: DynamoDBBackend, transact_items: list[dict[str, Any]]
    ) -> None:
        backups: list[tuple[Any, tuple[Any, Any], Any]] = []
        for entry in transact_items:
            for operation, request in entry.items():
                table: Any = self.tables.get(request.get("TableName", ""))
                key = _item_key(table, operation, request) if table is not None else None
                if key is not None:
                    backups.append((table, key, copy.deepcopy(table.get_item(*key))))
        _transaction.active = True
        try:
            transact(self, transact_items)
        except BaseException:
            for table, key, item in backups:
                _restore(table.items, key, item)
            raise
        finally:
            _transaction.active = False

    DynamoDBBackend.transact_write_items = _mark(transact_backing_up_items)  # type: ignore[method-assign]


# S3's longest object key, in UTF-8 bytes.
S3_KEY_BYTES = 1024


def refuse_long_object_keys() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend

    put = S3Backend.put_object
    if getattr(put, _APPLIED, False):
        return

    @wraps(put)
    def put_within_key_limit(
        self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        if len(key_name.encode("utf-8", "surrogatepass")) > S3_KEY_BYTES:
            raise S3ClientError("KeyTooLongError", "Your key is too long")
        return put(self, bucket_name, key_name, *args, **kwargs)

    S3Backend.put_object = _mark(put_within_key_limit)  # type: ignore[method-assign]


def list_services_once() -> None:
    from moto import backends

    listing = backends.list_of_moto_modules
    if getattr(listing, _APPLIED, False):
        return
    services = tuple(listing())

    def listed_once() -> tuple[str, ...]:
        return services

    backends.list_of_moto_modules = _mark(listed_once)


class _Counting(threading.local):
    active = False


_counting = _Counting()


def check_messages_without_counting_the_queue() -> None:
    """The approximate counts are counted inside GetQueueAttributes only; every other reader
    of a queue's attribute map (to see whether it deduplicates by content) gets 0 for them."""
    from moto.sqs.models import Queue, SQSBackend

    get_attributes = SQSBackend.get_queue_attributes
    if getattr(get_attributes, _APPLIED, False):
        return

    @wraps(get_attributes)
    def get_attributes_counting(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        _counting.active = True
        try:
            return get_attributes(self, *args, **kwargs)
        finally:
            _counting.active = False

    def retained(self: SQSBackend, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        period = int(queue.message_retention_period)  # type: ignore[attr-defined]
        return bool(period + message.sent_timestamp / 1000 > time.time())

    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        count = getattr(Queue, name).fget

        def counted_when_asked(queue: Queue, count: Callable[[Queue], int] = count) -> int:
            return count(queue) if _counting.active else 0

        setattr(Queue, name, property(counted_when_asked))
    SQSBackend.get_queue_attributes = _mark(get_attributes_counting)  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]


# The most of a request's body the application left unread that is read off to keep the
# connection; beyond it, closing is cheaper.
UNREAD_BODY_BYTES = 1 << 20


class _Body:
    """A request's body as the application reads it, counting what is left of its length."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self.left = length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data: bytes = self._stream.read(size) if size else b""
        self.left -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data: bytes = self._stream.readline(size) if size else b""
        self.left -= len(data)
        return data

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def _body_length(headers: Any) -> int | None:
    """The length of a request's body when it is told up front (none: 0); None when it is
    not (a chunked body, a malformed length)."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return None
    try:
        length = int(headers.get("Content-Length") or 0)
    except ValueError:
        return None
    return length if length >= 0 else None


class _Keeping(threading.local):
    active = False


_keeping = _Keeping()


class _Selectors:
    """Stands in for the `selectors` module in werkzeug's server, which after each response
    reads whatever else the connection holds, to throw it away: on a kept connection that
    is the client's next request. There the body has been read to its end already, and the
    selector sees nothing."""

    EVENT_READ = 1  # selectors.EVENT_READ

    class _Nothing:
        def register(self, *args: Any) -> None:
            pass

        def select(self, timeout: float | None = None) -> list[Any]:
            return []

        def close(self) -> None:
            pass

    @classmethod
    def DefaultSelector(cls) -> Any:  # the name werkzeug calls
        import selectors

        return cls._Nothing() if _keeping.active else selectors.DefaultSelector()


def keep_connections_open() -> None:
    import werkzeug.serving
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    make_environ, run_wsgi = MotoRequestHandler.make_environ, MotoRequestHandler.run_wsgi
    send_header = MotoRequestHandler.send_header
    if getattr(run_wsgi, _APPLIED, False):
        return

    @wraps(make_environ)
    def make_environ_counting_the_body(self: Any) -> Any:
        environ = make_environ(self)
        # A caller that sent `Expect: 100-continue` (boto3's S3 PutObject) waits up to a
        # second for the interim answer werkzeug has just written before it sends the body:
        # the buffered writer below would hold that answer until the final response, so
        # every such call would cost the caller's whole wait.
        self.wfile.flush()
        length = _body_length(self.headers)
        self._threadline_body = None if length is None else _Body(self.rfile, length)
        if self._threadline_body is not None:
            environ["wsgi.input"] = self._threadline_body
        return environ

    @wraps(send_header)
    def send_header_keeping_alive(self: Any, keyword: str, value: str) -> None:
        closing = keyword.lower() == "connection" and value.lower() == "close"
        keeping = getattr(self, "_threadline_body", None) is not None and not self.close_connection
        if closing and keeping:
            return
        send_header(self, keyword, value)

    @wraps(run_wsgi)
    def run_wsgi_then_read_off_the_body(self: Any) -> None:
        self._threadline_body = None
        _keeping.active = _body_length(self.headers) is not None
        try:
            run_wsgi(self)
        finally:
            _keeping.active = False
        body: _Body | None = self._threadline_body
        if body is None or body.left > UNREAD_BODY_BYTES:
            self.close_connection = True
        elif body.left:
            body.read()

    werkzeug.serving.selectors = _Selectors  # type: ignore[attr-defined,assignment]
    MotoRequestHandler.make_environ = make_environ_counting_the_body  # type: ignore[method-assign]
    MotoRequestHandler.send_header = send_header_keeping_alive  # type: ignore[method-assign]
    MotoRequestHandler.run_wsgi = _mark(run_wsgi_then_read_off_the_body)  # type: ignore[method-assign]
    # Headers and body leave in one write, not two small segments the client's delayed
    # acknowledgement would hold the second of for 40 ms.
    MotoRequestHandler.wbufsize = io.DEFAULT_BUFFER_SIZE
    MotoRequestHandler.disable_nagle_algorithm = True


# The operations whose answers are items, counts and keys, already in DynamoDB's JSON.
DYNAMODB_ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _base64_of_bytes(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def answer_dynamodb_items_directly() -> None:
    from moto.dynamodb.responses import DynamoHandler

    serialized = DynamoHandler.serialized
    if getattr(serialized, _APPLIED, False):
        return

    @wraps(serialized)
    def serialized_as_built(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if isinstance(result, dict) and self._get_action() in DYNAMODB_ITEM_OPERATIONS:
            try:
                body = json.dumps(result, default=_base64_of_bytes, separators=(",", ":"))
            except TypeError:  # something only the serializer knows how to write
                return serialized(self, action_result)
            headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
            return 200, headers, body
        return serialized(self, action_result)

    DynamoHandler.serialized = _mark(serialized_as_built)  # type: ignore[method-assign]


# How many distinct update expressions stay parsed: the application writes a few dozen.
PARSED_UPDATE_EXPRESSIONS = 1024


def parse_update_expressions_once() -> None:
    from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
        UpdateExpressionParser,
    )

    make = UpdateExpressionParser.make
    if getattr(make, _APPLIED, False):
        return
    # Nothing changes a parsed tree: moto's validator works on a deep copy of it.
    parsed = lru_cache(maxsize=PARSED_UPDATE_EXPRESSIONS)(make)

    def parsed_once(expression: str) -> Any:
        return parsed(expression)

    UpdateExpressionParser.make = staticmethod(_mark(parsed_once))  # type: ignore[method-assign,assignment]
