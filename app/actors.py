"""What `assay worker` hands to Dramatiq: the broker and every actor, registered."""

from app.worker import load_actors

load_actors()
