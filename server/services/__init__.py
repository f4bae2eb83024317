"""Domain rules. Services take their collaborators (session, storage, queue) as arguments."""
