"""The tier-two counselling-room service (FastAPI)."""
