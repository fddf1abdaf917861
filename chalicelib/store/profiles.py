"""Customer profiles: the identities (numbers, email addresses) a shop linked into one
customer, each pointing at its profile."""

from botocore.exceptions import ClientError

from chalicelib.domain.customers import CustomerProfile, identity
from chalicelib.domain.errors import Conflict
from chalicelib.store._table import (
    DynamoDBClient,
    Item,
    Table,
    cancelled_by_condition,
    expiry,
    identity_key,
    profile_index_keys,
    profile_key,
    profiles_partition,
    to_attributes,
)


class Profiles:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def customer_profile(self, shop_id: str, address: str) -> CustomerProfile | None:
        """The profile an address was linked into, if any."""
        pointer = self._table.get(identity_key(shop_id, identity(address)))
        if not pointer:
            return None
        return self.linked_profile(shop_id, str(pointer["customer_id"]))

    def linked_profile(self, shop_id: str, customer_id: str) -> CustomerProfile | None:
        """A profile by its id (as an identity's pointer names it), if it is still stored."""
        item = self._table.get(profile_key(shop_id, customer_id))
        return CustomerProfile.model_validate(item) if item else None

    def save_profile(
        self,
        profile: CustomerProfile | None,
        replaced: list[CustomerProfile],
        released: tuple[str, ...] = (),
        *,
        expires_at: int | None = None,
    ) -> None:
        """Stores a profile (None: none left) in place of the `replaced` ones, pointing its
        identities at it and releasing `released`, in one transaction; fails with Conflict
        when any identity moved meanwhile."""
        shop_id = (profile or replaced[0]).shop_id
        owners = {p.customer_id for p in replaced} | ({profile.customer_id} if profile else set())
        owner_values = {f":owner{n}": owner for n, owner in enumerate(sorted(owners))}
        # An identity is written or released only while it points at one of these profiles.
        unchanged = "attribute_not_exists(PK) OR customer_id IN (" + ", ".join(owner_values) + ")"
        writes = [
            self._table.delete_action(profile_key(shop_id, gone.customer_id))
            for gone in replaced
            if profile is None or gone.customer_id != profile.customer_id
        ]
        kept = set(profile.identities) if profile else set()
        previous = {i for p in replaced for i in p.identities}
        writes += [
            self._table.delete_action(identity_key(shop_id, value), unchanged, owner_values)
            for value in sorted((previous | set(released)) - kept)
        ]
        if profile is not None:
            writes += self._profile_puts(profile, unchanged, owner_values, expires_at)
        try:
            self._table.transact(writes)
        except ClientError as error:
            if any(cancelled_by_condition(error)):
                raise Conflict("the customer's links changed meanwhile; try again") from error
            raise

    def _profile_puts(
        self, profile: CustomerProfile, unchanged: str, owners: Item, expires_at: int | None
    ) -> list[Item]:
        """The profile's item and its identities' pointers to it, as transaction items."""
        shop_id = profile.shop_id
        values = {
            **profile.model_dump(mode="json"),
            **profile_index_keys(shop_id, profile.customer_id),
            **expiry(expires_at),
        }
        puts = [
            self._table.put_action(
                {**profile_key(shop_id, profile.customer_id), **to_attributes(values)}
            )
        ]
        pointer = to_attributes({"customer_id": profile.customer_id, **expiry(expires_at)})
        puts += [
            self._table.put_action({**identity_key(shop_id, value), **pointer}, unchanged, owners)
            for value in profile.identities
        ]
        return puts

    def erase_profiles(self, shop_id: str) -> int:
        """Deletes every customer profile of a shop and the identity pointers to it (a
        deleted shop's links, which a shop created again with its id must not inherit);
        returns how many profiles went."""
        keys = self._table.keys_in("GSI2", "GSI2PK", profiles_partition(shop_id))
        profiles = [CustomerProfile.model_validate(item) for item in self._table.read_all(keys)]
        self._table.delete_all(
            [profile_key(shop_id, profile.customer_id) for profile in profiles]
            + [identity_key(shop_id, i) for profile in profiles for i in profile.identities]
        )
        return len(profiles)
