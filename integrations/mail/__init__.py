"""Mail and meetings: the mailbox sync (mail and calendar rounds), the
on-demand bodies and their actions. Imports setup and graph only."""
