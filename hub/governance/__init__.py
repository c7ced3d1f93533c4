"""Who may send and what was done: partners, the link policy, the partner directory, the journal."""
