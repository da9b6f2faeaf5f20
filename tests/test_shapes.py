"""The SHACL shapes accept what the mapping makes of well-formed records and reject bad values.

Validation here mirrors the pipeline: pyshacl, no inference, no ontology, on the
record's own triples plus its context triples (the types of entities defined
elsewhere). pyoxigraph terms are converted to rdflib terms by a small helper so
this test does not depend on ``mlmeta.validate``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import pytest
from rdflib import BNode, Graph, Namespace, URIRef
from rdflib import Literal as RLiteral
from rdflib.namespace import RDF, SH

from mlmeta.mapping import MappedRecord, map_record
from mlmeta.records import (
    ConceptRef,
    DataInstance,
    DatasetRecord,
    DatasetSplit,
    EvaluationRecord,
    HardwareRecord,
    Hyperparameter,
    Lineage,
    ModelIO,
    ModelRecord,
    PredictionRecord,
    PreprocessStep,
    SoftwareStack,
    SourceInfo,
    StandaloneEvaluation,
    TrainingRunRecord,
    WeightsFile,
)

ROOT = Path(__file__).resolve().parents[1]
SHAPES_DIR = ROOT / "shapes"
MLM = Namespace("https://w3id.org/mlmeta#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")  # plain Namespace: no pytest warning
ID = "https://w3id.org/mlmeta/id/"
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- helpers --------------------------------------------------------------------


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal, plain_strings: bool = True):
    """One pyoxigraph term as an rdflib term.

    ``plain_strings`` writes xsd:string literals without a datatype (rdflib's usual
    form); False keeps the explicit ``^^xsd:string``. The shapes must accept both.
    """
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return RLiteral(term.value, lang=term.language)
    datatype = term.datatype.value
    if plain_strings and datatype == str(XSD.string):
        return RLiteral(term.value)
    return RLiteral(term.value, datatype=URIRef(datatype))


def record_graph(mapped: MappedRecord, plain_strings: bool = True) -> Graph:
    """The graph validation sees: the record's triples plus its context triples."""
    g = Graph()
    for t in [*mapped.triples(), *mapped.context]:
        g.add((to_rdflib(t.subject, plain_strings), to_rdflib(t.predicate, plain_strings),
               to_rdflib(t.object, plain_strings)))
    return g


@dataclass
class Result:
    focus: object
    path: object
    message: str
    component: object


@pytest.fixture(scope="module")
def shapes() -> Graph:
    g = Graph()
    files = sorted(SHAPES_DIR.glob("*.ttl"))
    assert files, f"no shapes in {SHAPES_DIR}"
    for f in files:
        g.parse(f, format="turtle")
    return g


def validate(data: Graph, shapes: Graph) -> tuple[bool, list[Result]]:
    conforms, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none",
                                           advanced=False)
    results = []
    for r in report.subjects(RDF.type, SH.ValidationResult):
        results.append(Result(
            focus=report.value(r, SH.focusNode),
            path=report.value(r, SH.resultPath),
            message=" | ".join(str(m) for m in report.objects(r, SH.resultMessage)),
            component=report.value(r, SH.sourceConstraintComponent),
        ))
    return bool(conforms), results


def describe(results: list[Result]) -> str:
    return "\n".join(f"{r.focus} {r.path} {r.message} ({r.component})" for r in results)


def hf(version: str | None = "3f2a1b0") -> SourceInfo:
    return SourceInfo("huggingface", url="https://huggingface.co/", version=version,
                      retrieved=WHEN)


# --- records ----------------------------------------------------------------------


def rich_model() -> ModelRecord:
    src = SourceInfo("huggingface", url="https://huggingface.co/google/vit-base-patch16-224",
                     version="3f2a1b0", retrieved=WHEN, note="example")
    return ModelRecord(
        source_id="google/vit-base-patch16-224",
        source=src,
        name="ViT base, patch 16, 224",
        version="v1.0",
        previous_version="google/vit-base-patch16-224-old",
        description="Vision Transformer fine-tuned on ImageNet-1k.",
        license=["apache-2.0", "some-custom-licence"],
        authors=["A. Dosovitskiy", "L. Beyer"],
        organisation="Google",
        architecture="ViT-B/16",
        architecture_family="vit",
        parameter_count=86_567_656,
        flops=17.6e9,
        tasks=["image-classification", "an unlisted task"],
        library="transformers",
        tags=["vision", "vit"],
        trained_on=["imagenet-21k", "ImageNet", "some private photos"],
        derived_from=[
            Lineage("google/vit-base-patch16-224-in21k", "finetune"),
            Lineage("timm:vit_base_patch16_224.augreg_in21k", "distilled"),
            Lineage("someone/vit-lora", "adapter"),
            Lineage("someone/vit-int8", "quantized"),
            Lineage("someone/vit-merge", "merge"),
            Lineage("someone/vit-other", "derived"),
        ],
        hyperparameters=[
            Hyperparameter("learning_rate", 3e-5),
            Hyperparameter("num_epochs", 10),
            Hyperparameter("optimizer", "adamw"),
            Hyperparameter("fp16", True),
        ],
        software=[
            SoftwareStack("PyTorch", version="2.1.0", container_images=["pytorch/pytorch:2.1.0"],
                          extra={"cuda": "12.1", "cudnn": "8.9"}),
            SoftwareStack("transformers", version_constraint=">=4.30"),
        ],
        inputs=[ModelIO(
            "image", element_type="float32", dimensions=[-1, 3, 224, 224],
            description="RGB image",
            preprocessing=[
                PreprocessStep("decode", description="JPEG to array"),
                PreprocessStep("resize", resize_width=256, resize_height=256,
                               interpolation="bilinear"),
                PreprocessStep("crop", crop_method="center", crop_percentage=0.875),
                PreprocessStep("rescale", rescale_factor=1 / 255),
                PreprocessStep("normalize", mean=[0.485, 0.456, 0.406],
                               std=[0.229, 0.224, 0.225]),
                PreprocessStep("color-layout", color_layout="RGB"),
                PreprocessStep("data-layout", data_layout="NCHW"),
                PreprocessStep("custom", code="x = x[None]", description="add batch axis"),
            ],
        )],
        outputs=[ModelIO("classification", element_type="float32", dimensions=[1000],
                         label_file_url="https://example.org/imagenet_labels.txt",
                         label_file_checksum="sha256:0f0f", postprocess_code="softmax(x)")],
        concepts=[
            ConceptRef("tabby cat", class_id="n02123045", index=281),
            ConceptRef("person", class_id="person", label_space="coco"),
        ],
        label_space="imagenet-1k",
        evaluations=[
            EvaluationRecord("top1", 81.1, dataset="ImageNet", split="validation", unit="%",
                             task="image-classification", metric_name="Top-1 Acc.",
                             reported_by="Google", date="2021-06-03",
                             source_url="https://arxiv.org/abs/2010.11929"),
            EvaluationRecord("top5", "0.957", dataset="imagenet-1k", unit="fraction"),
            EvaluationRecord("latency", "12.5 +/- 0.3", unit="ms", hardware="a100", batch_size=1,
                             precision="amp", data_layout="nhwc", image_size=224,
                             kind="measured", software=SoftwareStack("TensorRT", "8.6.1")),
            EvaluationRecord("per-class-accuracy", 0.92, dataset="ImageNet",
                             concept="tabby cat"),
            EvaluationRecord("throughput", 1500.5, hardware="My Custom Board", batch_size=256,
                             precision="bf16"),
            EvaluationRecord("top1", "n/a"),  # not a number: kept raw, no value
        ],
        homepage="https://huggingface.co/google/vit-base-patch16-224",
        code_url="https://github.com/google-research/vision_transformer",
        paper_url="https://arxiv.org/abs/2010.11929",
        weights=[WeightsFile("https://huggingface.co/google/vit/resolve/main/model.safetensors",
                             checksum="sha256:abcd", kind="weights")],
        config_url="https://huggingface.co/google/vit/resolve/main/config.json",
        created=datetime(2022, 3, 29, 18, 0),
        modified=datetime(2023, 9, 5, 10, 0, tzinfo=UTC),
        downloads=2_500_000,
        likes=600,
        gated=False,
        entry_points=["transformers.ViTForImageClassification"],
    )


def dataset_record() -> DatasetRecord:
    return DatasetRecord(
        source_id="ylecun/mnist",
        source=hf(),
        name="MNIST",
        version="1.0.0",
        description="Handwritten digits.",
        license="mit",
        size_category="10K<n<100K",
        modalities=["image"],
        languages=["en"],
        annotation_creators=["expert-generated"],
        language_creators=["found"],
        annotator_count=3,
        source_datasets=["original"],
        derived_from=["NIST Special Database 19"],
        tasks=["image-classification"],
        task_ids=["multi-class-image-classification"],
        multilinguality=["monolingual"],
        splits=[DatasetSplit("train", 60000), DatasetSplit("test", 10000)],
        instances=[
            DataInstance("train/0.png", depicts=["five", "Q202"], split="train",
                         url="https://example.org/mnist/train/0.png"),
            DataInstance("test/7.png", depicts=["seven"], split="test"),
        ],
        tags=["digits"],
        paperswithcode_id="mnist",
        homepage="http://yann.lecun.com/exdb/mnist/",
        downloads=100,
        modified=WHEN,
    )


def hardware_record() -> HardwareRecord:
    return HardwareRecord("Jetson Orin Nano", SourceInfo("user", retrieved=WHEN,
                                                         illustrative=True),
                          kind="edge", memory_gb=8.0, vendor="NVIDIA",
                          description="8 GB developer kit")


def prediction_record() -> PredictionRecord:
    return PredictionRecord("p1", model="huggingface:google/vit-base-patch16-224",
                            source=SourceInfo("user", retrieved=WHEN), concept="tabby cat",
                            confidence=0.93, instance="cat.jpg", dataset="ImageNet")


def run_record() -> TrainingRunRecord:
    return TrainingRunRecord(
        "run-1", model="huggingface:google/vit-base-patch16-224",
        source=SourceInfo("user", retrieved=WHEN),
        datasets=["ImageNet", "my-private-set"],
        hyperparameters=[Hyperparameter("batch_size", 512), Hyperparameter("lr", 0.001)],
        software=[SoftwareStack("JAX", "0.4.20")],
        hardware="TPU v3-8",
        started=datetime(2021, 1, 1, tzinfo=UTC), ended=datetime(2021, 1, 3, tzinfo=UTC),
    )


def standalone_eval(model: str | None = "timm:resnet50.a1_in1k") -> StandaloneEvaluation:
    return StandaloneEvaluation(
        EvaluationRecord("acc@1", "80.4%", model=model, dataset="imagenet-1k",
                         hardware="rtx4090", batch_size=256, precision="fp32"),
        id="e1", source=SourceInfo("user", url="https://example.org/results.csv",
                                   retrieved=WHEN))


VALID: dict[str, Callable[[], object]] = {
    "model": rich_model,
    "dataset": dataset_record,
    "hardware": hardware_record,
    "prediction": prediction_record,
    "run": run_record,
    "evaluation": standalone_eval,
    "minimal-model": lambda: ModelRecord("resnet50.a1_in1k", SourceInfo("timm")),
    "minimal-dataset": lambda: DatasetRecord("imagenet-1k", hf()),
    # "Cat" and "cat" meet in one concept node that then carries both spellings
    "dataset-label-case": lambda: DatasetRecord(
        "org/pets", hf(), instances=[DataInstance("1", ["Cat"]), DataInstance("2", ["cat"])]),
}


# --- valid records conform --------------------------------------------------------


@pytest.mark.parametrize("plain_strings", [True, False], ids=["plain", "xsd-string"])
@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_record_conforms(name: str, plain_strings: bool, shapes: Graph) -> None:
    mapped = map_record(VALID[name]())
    conforms, results = validate(record_graph(mapped, plain_strings), shapes)
    assert conforms, f"{name} does not conform:\n{describe(results)}"


def test_rich_model_is_really_rich() -> None:
    """The rich model exercises every node kind the shapes target."""
    g = record_graph(map_record(rich_model()))
    types = set(g.objects(None, RDF.type))
    for cls in ("Model", "Evaluation", "ModelInput", "ModelOutput", "HyperparameterSetting",
                "SoftwareStack", "SemanticConcept", "WeightsFile", "RecordGraph", "CropStep",
                "ResizeStep", "NormalizeStep", "RescaleStep", "ColorLayoutStep",
                "DataLayoutStep", "DecodeStep", "CustomStep", "LabelSpace"):
        assert MLM[cls] in types, cls


# --- invalid records are rejected with a message on the right path ------------------


def model_iri(source_id: str, zoo: str = "huggingface") -> URIRef:
    return URIRef(str(to_rdflib(map_record(ModelRecord(source_id, SourceInfo(zoo))).focus)))


def eval_node(g: Graph) -> URIRef:
    nodes = list(g.subjects(RDF.type, MLM.Evaluation))
    assert len(nodes) == 1
    return nodes[0]


def replace(g: Graph, s, p, o) -> Graph:
    g.remove((s, p, None))
    g.add((s, p, o))
    return g


def expect(results: list[Result], focus, path, message: str) -> None:
    hits = [r for r in results if r.focus == focus and r.path == path and message in r.message]
    assert hits, f"no violation at {focus} {path} with {message!r}; got:\n{describe(results)}"


def model_graph(**fields) -> tuple[Graph, URIRef]:
    rec = ModelRecord(fields.pop("source_id", "org/model"), fields.pop("source", hf()), **fields)
    mapped = map_record(rec)
    return record_graph(mapped), URIRef(mapped.focus.value)


def test_fraction_value_out_of_range(shapes: Graph) -> None:
    # top-1 accuracy given as a fraction, then the canonical value swapped for a percent.
    g, _ = model_graph(evaluations=[EvaluationRecord("top1", 0.941, dataset="ImageNet")])
    e = eval_node(g)
    assert g.value(e, MLM.unit) == URIRef(ID + "unit/fraction")
    replace(g, e, MLM.value, RLiteral(94.1, datatype=XSD.double))
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, e, None, "a fraction-valued result must lie between 0 and 1")


def test_fraction_value_not_a_fraction_is_kept_raw(shapes: Graph) -> None:
    # 250 can be neither a fraction nor a percent: the mapping keeps only the raw value.
    rec = ModelRecord("org/model", hf(), evaluations=[EvaluationRecord("top1", 250)])
    mapped = map_record(rec)
    assert any("cannot be a fraction" in w for w in mapped.warnings), mapped.warnings
    g = record_graph(mapped)
    e = eval_node(g)
    assert g.value(e, MLM.value) is None
    assert str(g.value(e, MLM.rawValue)) == "250"
    assert validate(g, shapes)[0]
    # and a value outside [0, 1] with another unit is fine
    g.add((e, MLM.value, RLiteral(250.0, datatype=XSD.double)))
    replace(g, e, MLM.unit, URIRef(ID + "unit/ms"))
    g.add((URIRef(ID + "unit/ms"), RDF.type, MLM.Unit))
    assert validate(g, shapes)[0]


def test_negative_parameter_count(shapes: Graph) -> None:
    g, m = model_graph(parameter_count=-5)
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, m, MLM.parameterCount, "a parameter count is one whole number, 0 or more")


def test_bad_hugging_face_repo_id(shapes: Graph) -> None:
    g, m = model_graph(source_id="not a/valid/id!!")
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, m, None, "a Hugging Face source id must be a repo id like 'org/name'")


@pytest.mark.parametrize("source_id", ["bert-base-uncased", "google/vit-base-patch16-224",
                                       "Org_1/model.v2-final"])
def test_good_hugging_face_repo_ids(source_id: str, shapes: Graph) -> None:
    g, _ = model_graph(source_id=source_id)
    conforms, results = validate(g, shapes)
    assert conforms, describe(results)


def test_other_zoos_keep_their_own_ids(shapes: Graph) -> None:
    g, _ = model_graph(source_id="TorchVision ResNet 50 (v1.5)", source=SourceInfo("mlmodelscope"))
    conforms, results = validate(g, shapes)
    assert conforms, describe(results)


def test_model_with_two_names(shapes: Graph) -> None:
    g, m = model_graph(name="One")
    g.add((m, MLM.name, RLiteral("Two")))
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, m, MLM.name, "a model needs exactly one name")


def test_model_without_name(shapes: Graph) -> None:
    g, m = model_graph(name="One")
    g.remove((m, MLM.name, None))
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, m, MLM.name, "needs exactly one name")


def test_batch_size_zero(shapes: Graph) -> None:
    g, _ = model_graph(evaluations=[EvaluationRecord("latency", 3.2, unit="ms", batch_size=0)])
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, eval_node(g), MLM.batchSize, "a batch size is one whole number, 1 or more")


def test_confidence_above_one(shapes: Graph) -> None:
    rec = prediction_record()
    rec.confidence = 1.5
    mapped = map_record(rec)
    conforms, results = validate(record_graph(mapped), shapes)
    assert not conforms
    expect(results, URIRef(mapped.focus.value), MLM.confidence,
           "a confidence is one number between 0 and 1")


def test_bad_colour_layout(shapes: Graph) -> None:
    g, m = model_graph(inputs=[ModelIO("image", preprocessing=[
        PreprocessStep("decode"), PreprocessStep("color-layout", color_layout="RGBA")])])
    conforms, results = validate(g, shapes)
    assert not conforms
    step = URIRef(f"{m}/inputs/0/step/1")
    expect(results, step, MLM.colorLayout, "a colour layout is RGB or BGR")


def test_evaluation_without_model(shapes: Graph) -> None:
    mapped = map_record(standalone_eval(model=None))
    conforms, results = validate(record_graph(mapped), shapes)
    assert not conforms
    expect(results, URIRef(mapped.focus.value), MLM.evaluatedModel,
           "an evaluation needs exactly one evaluated model")


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"version": "1.0 beta"}, MLM.modelVersion, "a model version is one word"),
        ({"downloads": -1}, MLM.downloads, "a download count is one whole number"),
    ],
)
def test_bad_model_fields(fields: dict, path: URIRef, message: str, shapes: Graph) -> None:
    g, m = model_graph(**fields)
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, m, path, message)


@pytest.mark.parametrize(
    ("step", "path", "message"),
    [
        (PreprocessStep("crop", crop_percentage=87.5), MLM.cropFraction,
         "a crop fraction is one number greater than 0 and at most 2"),
        (PreprocessStep("crop", crop_percentage=0.0), MLM.cropFraction,
         "a crop fraction is one number greater than 0 and at most 2"),
        (PreprocessStep("data-layout", data_layout="NCWH"), MLM.dataLayout,
         "a data layout is one of NCHW, NHWC, CHW, HWC"),
        (PreprocessStep("resize", resize_width=0), MLM.resizeWidth, "a resize width"),
    ],
)
def test_bad_steps(step: PreprocessStep, path: URIRef, message: str, shapes: Graph) -> None:
    g, m = model_graph(inputs=[ModelIO("image", preprocessing=[step])])
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, URIRef(f"{m}/inputs/0/step/0"), path, message)


def test_negative_step_index(shapes: Graph) -> None:
    g, m = model_graph(inputs=[ModelIO("image", preprocessing=[PreprocessStep("decode")])])
    step = URIRef(f"{m}/inputs/0/step/0")
    replace(g, step, MLM.stepIndex, RLiteral(-1))
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, step, MLM.stepIndex, "a whole number 0 or more")


def test_bad_precision_and_result_kind(shapes: Graph) -> None:
    g, _ = model_graph(evaluations=[EvaluationRecord("latency", 3.2, unit="ms", precision="fp33")])
    e = eval_node(g)
    replace(g, e, MLM.resultKind, MLM.Guessed)
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, e, MLM.numericPrecision, "a numeric precision is one of")
    expect(results, e, MLM.resultKind, "exactly one of mlm:Reported or mlm:Measured")


def test_trained_on_must_be_a_dataset(shapes: Graph) -> None:
    g, m = model_graph(trained_on=["ImageNet"])
    ds = g.value(m, MLM.trainedOn)
    g.remove((ds, RDF.type, MLM.Dataset))
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, m, MLM.trainedOn, "every mlm:trainedOn value must be an mlm:Dataset")


def test_bad_dataset_fields(shapes: Graph) -> None:
    rec = dataset_record()
    rec.annotator_count = -2
    rec.version = "version one"
    mapped = map_record(rec)
    conforms, results = validate(record_graph(mapped), shapes)
    assert not conforms
    d = URIRef(mapped.focus.value)
    expect(results, d, MLM.annotatorCount, "an annotator count is one whole number, 0 or more")
    expect(results, d, MLM.datasetVersion, "a dataset version is one word")


def test_bad_hardware_kind(shapes: Graph) -> None:
    mapped = map_record(hardware_record())
    g = record_graph(mapped)
    hw = URIRef(mapped.focus.value)
    replace(g, hw, MLM.hardwareKind, MLM.Toaster)
    conforms, results = validate(g, shapes)
    assert not conforms
    expect(results, hw, MLM.hardwareKind, "a device has at most one hardware kind")


def test_run_that_ends_before_it_starts(shapes: Graph) -> None:
    rec = run_record()
    rec.started, rec.ended = rec.ended, rec.started
    mapped = map_record(rec)
    conforms, results = validate(record_graph(mapped), shapes)
    assert not conforms
    expect(results, URIRef(mapped.focus.value), MLM.startedAt, "not after its end")


def test_every_property_shape_has_a_message(shapes: Graph) -> None:
    missing = [str(ps) for ps in set(shapes.subjects(SH.path, None))
               if shapes.value(ps, SH.message) is None]
    assert not missing, f"property shapes without sh:message: {missing}"
