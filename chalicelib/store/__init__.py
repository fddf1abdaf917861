"""The repositories over Threadline's single DynamoDB table: the only package that knows keys.

Access patterns and their keys (every item has PK and SK; GSI1 is a sparse, overloaded
index):

| pattern                                | PK / GSI1PK                         | SK / GSI1SK      |
|----------------------------------------|-------------------------------------|------------------|
| shop config by id                      | SHOP#{shop}                         | SHOP             |
| ... every shop (digests, listings)     | GSI2: SHOPS                         | {shop}           |
| a shop deleted a moment ago (its id    | SHOP#{shop}                         | DELETED          |
| waits till no container caches it)     |                                     |                  |
| shop by inbound address (number, email)| ADDRESS#{address}                   | ADDRESS          |
| shops of a Slack workspace             | GSI1: TEAM#{team}                   | {shop}           |
| message by provider delivery (dedupe)  | SHOP#{shop}#MSG#{message key}       | MESSAGE          |
| outbound message by provider message id| SHOP#{shop}#PROVIDER#{provider id}  | POINTER          |
| conversation by id                     | SHOP#{shop}#CONV#{conversation}     | CONVERSATION     |
| open conversation by (shop, customer)  | SHOP#{shop}#OPEN#{customer address} | POINTER          |
| conversation by Slack thread           | SLACK#{team}#{channel}#{thread ts}  | POINTER          |
| conversation by an email's Message-ID  | SHOP#{shop}#MAILID#{message id}     | POINTER          |
| ... every Message-ID of a conversation | GSI1: MAILIDS#{shop}#{conversation} | {message id}     |
| mail quarantined or dropped, by reason | SHOP#{shop}                         | COUNTERS         |
| a customer's erasure, its receipt      | SHOP#{shop}#ERASURES                | {erased at}      |
| a customer's linked identities         | SHOP#{shop}#CUSTOMER#{customer id}  | PROFILE          |
| profile by identity (number or email)  | SHOP#{shop}#IDENTITY#{identity}     | POINTER          |
| latest edit/deletion of a Slack message| SLACK#{team}#{channel}#{ts}         | REVISION         |
| ... of every message of a thread       | GSI1: REVISIONS#{team}#{channel}#{thread ts} | {ts}    |
| a post made for an agent or by itself  | SLACK#{team}#POST#{job's post id}   | POST             |
| a shop message, by the caller's id     | SHOP#{shop}#SHOPMESSAGE#{caller id} | REQUEST          |
| a dead letter told in Slack (30 days)  | DEADLETTER#{SQS message id}         | TOLD             |
| a platform's webhook acted on (7 days) | SHOP#{shop}#WEBHOOK#{kind}:{id}     | RECEIVED         |
| a refund asked from Slack (90 days)    | SHOP#{shop}#REFUND#{submission key} | REFUND           |
| a customer's STOP for order updates    | SHOP#{shop}#OPTOUT#{identity}       | OPTOUT           |
| an "Add to Slack" in progress (10 min) | OAUTHSTATE#{state}                  | STATE            |
| a shop's daily digest, by local day    | SHOP#{shop}#DIGEST                  | {local date}     |
| a workspace's installation (no tokens) | SLACKTEAM#{enterprise or -}#{team}  | INSTALLATION     |
| messages of a conversation, time order | GSI1: CONV#{shop}#{conversation}    | {iso time}#{key} |
| conversations of a shop, by start      | GSI1: SHOP#{shop}#CONVERSATIONS     | {created iso}    |
| customer messages not yet processed    | GSI1: UNPROCESSED#{shard 0-7}       | {due time}#{key} |
| ... left to operators after a day      | GSI1: STRANDED#{shard 0-7}          | {iso time}#{key} |
| a shop's stored customer messages, by  | GSI2: SHOP#{shop}#MESSAGES          | {address hash}#  |
| customer (erasure, export, deletion)   |                                     | {iso time}#{key} |
| a shop's customer profiles (deletion)  | GSI2: SHOP#{shop}#PROFILES          | {customer id}    |

A customer message is written into an UNPROCESSED partition of GSI1 by the same put that
stores it (no extra call on the ack path), sorted by when it is due to be queued again;
processing moves it onto its conversation's timeline, so the partition holds exactly what
still waits. Eight shards spread its writes.

The same put files every customer message under GSI2 too, for good: by shop, then by a
SHA-256 of the customer's address (fixed length, so a prefix query for one customer never
matches another's, whatever characters an address holds). Erasure and export find through it
what no conversation's timeline holds (messages waiting for Slack, unprocessed, stranded or
discarded), and a shop's deletion finds everything its customers left, their profiles too.
GSI2 projects keys only; its readers fetch the items themselves, consistently. Messages and
profiles stored before GSI2 existed lack its keys: `threadline index-customer-data`
(`Upgrades.index_customer_data`) files them.

Every shop item is filed under GSI2's `SHOPS` partition, so listing the shops (the hourly
digest, the admin listing) queries that partition and reads the configs it names, however
many conversations and messages the table holds; no function scans the table. Shops stored
before the partition existed lack its keys: `threadline index-shops` (`Upgrades.index_shops`)
files them.

Reports read a period of a shop's conversations with one key condition on the
CONVERSATIONS partition (`GSI1SK BETWEEN start AND end`), following every page: the sort
key is the creation instant in UTC ISO form, so a time range is a key range. BETWEEN
includes its upper end; a conversation created exactly at `end` is left out after reading.

A daily digest's item is a lease and a record of progress at once: a run takes the lease
(conditionally: none taken, or the last one expired without finishing), records the Slack
post's ts once posted, and `done_at` once the chart is up too. A failed run gives the lease
back, so the next run retries only what is missing; a finished digest is never taken again.
The item expires after 40 days.

A conversation carries a `version`, one more with every write that changes it (the customer's
messages counted, its Slack thread attached, agents' and timers' changes). Agents' and timers'
changes (`save_state`) are stored only if the conversation is still at the version they were
read at, so a change made from a stale read is refused instead of undoing another; the caller
reads again and applies its change anew. Moving the expiry alone is no change.

Message keys are `<provider>:<provider message id>` (customer messages) and
`slack:<channel>:<ts>` (agent replies), so a provider's retry always meets its first copy.
Every key holding an id that someone outside chose (a Message-ID, a caller's id, a
provider's message id) starts with the shop, and a post record's id with the conversation;
a partition key over 1,024 bytes, or a message key over 512 within a sort key, is replaced
by a digest of it (`foreign_ids.fitted`), never cut, identically for its write and reads.
Pointers are written in the same transaction as what they point to. Times are ISO-8601 UTC
strings, which sort as they should.

What the bot posts or uploads in Slack about a customer is noted where their erasure reads
anyway: a stored message carries the ids of the files shared after it (`slack_file_ids`,
with `files_shared`, how many of its files are in the thread, so a retry shares the rest)
and a dead-letter note about it; a conversation carries the escalations told outside its
thread (`slack_posts_about`, [channel, ts] pairs). Each note is conditional on its item
being there, so a post made while its customer is erased is taken back by its poster.

Retention: for a shop with `retention_days`, every item holding or pointing at customer data
carries `expires_at` (epoch seconds), which DynamoDB's TTL deletes some time after. A message,
a provider pointer, a Message-ID pointer and a post record expire that long after they were
written; the conversation and its open and Slack thread pointers that long after the
conversation's last activity: each write that touches the conversation moves them along. An
edit or deletion record of a Slack message expires after the shortest retention whatever the
shop: it only matters until the reply it changes is sent. Shop configs, counters, erasure
receipts and installations never expire; a customer profile and its identity pointers expire
that long after the shop last changed its links. The callers compute `expires_at` from the shop
(`Shop.expiry`), so no write reads the shop for it. The record of a shop's deletion expires
when its id may be used again.

One repository a kind of item, each built on the same DynamoDB client and table name:
`shops.Shops` (configs, address claims), `inbound.InboundMessages` (customer messages),
`conversations.Conversations` (a conversation and its pointers) with
`listings.ConversationListings` (its reads by shop), `replies.Replies` (agents' replies,
their edits, the bot's posts), `profiles.Profiles` (linked identities),
`installs.Installations` (Slack installations, OAuth states), `digests.Digests` (daily
digest leases), `claims.DeadLetterClaims` and `claims.ShopMessageClaims` (work done once),
`counters.Counters`, `erasure.Erasures` (what a customer's erasure deletes at once) and
`upgrades.Upgrades` (the operator's indexing steps). The private `_table` alone knows keys,
(de)serialisation, conditional writes and how an update expression is built from a list of
stored fields; a write that spans kinds (a message and its conversation) is still one
transaction, its items built there. The services see each repository through a narrow
protocol (`services/ports.py`).
"""
