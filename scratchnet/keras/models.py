"""`keras.models` -- `Model`, `Sequential`, and saving whole models (the code:
scratchnet/models/ and scratchnet/saving/)."""
from scratchnet.models import Functional, Model, Sequential
from scratchnet.saving import clone_model, load_model, model_from_json, save_model

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "save_model"]
