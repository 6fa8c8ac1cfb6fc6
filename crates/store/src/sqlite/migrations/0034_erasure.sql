-- Erasure: when a contact was erased (null: never). Their address is then
-- a pseudonym and their words are gone; see DirectoryStore::erase_contact.
alter table contacts add column erased_at text;
-- Scratch space for overwriting free pages with zeros after an erasure:
-- a blob as large as the free list takes every free page, and deleting it
-- gives them back zeroed.
create table wipe (b blob);
