"""Request and response schemas, generated from the packaged model's MLflow signature.

A row is an object with exactly the signature's columns: a missing or an extra field, a value of the wrong
type, NaN or infinity are refused, each error naming the field. Fields are declared by alias, so column
names that are not Python identifiers (``mean radius``) work, and errors and the OpenAPI docs show the
column name itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, create_model

from specweave_ml.errors import DataError

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # strict: "1.5" is a string, not a number
TYPES: dict[str, Any] = {
    "double": FiniteFloat, "float": FiniteFloat,
    "long": StrictInt, "integer": StrictInt,
    "string": StrictStr, "boolean": StrictBool,
}


def row_model(columns: dict[str, str], name: str = "Row") -> type[BaseModel]:
    """One row of the model's input; the field order is the signature's."""
    fields = {}
    for i, (column, kind) in enumerate(columns.items()):
        if kind not in TYPES:
            raise DataError(f"signature column '{column}'", f"type '{kind}' cannot be served yet",
                            f"serve models whose inputs are one of {', '.join(TYPES)}")
        fields[f"f{i}"] = (TYPES[kind], Field(alias=column))
    return create_model(name, __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields)


def batch_model(row: type[BaseModel], max_rows: int) -> type[BaseModel]:
    return create_model("Batch", __config__=ConfigDict(extra="forbid"),
                        rows=(list[row], Field(min_length=1, max_length=max_rows, description=f"1 to {max_rows} rows")))


def values(row: BaseModel) -> list:
    """A validated row's values in signature order."""
    return list(row.__dict__.values())


class Prediction(BaseModel):
    score: Optional[float] = Field(None, description="binary: P(positive class)")
    probabilities: Optional[dict[str, float]] = Field(None, description="multiclass: P(class)")
    prediction: Optional[float] = Field(None, description="regression: the predicted value")
    decision: Any = Field(None, description="classification: the class decided (binary: at the tuned threshold)")


class PredictResponse(Prediction):
    variant: str
    model: str = Field(description="the first 12 characters of the packaged model's sha256")
    threshold: Optional[float] = None


class BatchResponse(BaseModel):
    variant: str
    model: str
    threshold: Optional[float] = None
    predictions: list[Prediction]


class ExplainResponse(BaseModel):
    variant: str
    model: str
    explainer: str
    base_value: float
    values: dict[str, float] = Field(description="SHAP value per feature the estimator sees (after preprocessing)")
    explained_class: Any = None
    prediction: Prediction
