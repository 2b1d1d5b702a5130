"""X-ray screening: events and their images, scoring, the review queue, TIP, machines, models."""
