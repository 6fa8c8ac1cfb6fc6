-- Erasure: when a contact was erased (null: never). Their address is then
-- a pseudonym and their words are gone; see DirectoryStore::erase_contact.
alter table contacts add column erased_at timestamptz;
