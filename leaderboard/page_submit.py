"""The Submit page: upload a prediction file (.npz) or a model folder (.zip, run in the sandbox) with the method's
metadata; the job is queued and followed on "My submissions". A refusal is one line."""

from __future__ import annotations

import streamlit as st

from harness.benchmarks import BENCHMARKS
from harness.errors import BadInput
from leaderboard.export import markdown_escape
from leaderboard.moderation import check_method_name
from leaderboard.signin import signed_in_or_stop
from leaderboard.views import writer_engine

KINDS: dict[str, str] = {"file": "Prediction file (.npz)", "model": "Model folder (.zip, run in the sandbox)"}
SUPERVISION: tuple[str, ...] = ("unsupervised", "weakly-supervised", "self-supervised", "fully-supervised")
TTA: tuple[str, ...] = ("none", "horizontal flip", "other")
DATASETS: tuple[str, ...] = tuple(dict.fromkeys(b.dataset for b in BENCHMARKS.values()))


def build_meta(name: str, paper: str, code: str, supervision: str, training_data: str, input_2d: str, tta: str) -> dict[str, str]:
    """The method's metadata as the result JSON carries it, with the protocol fields every PoseBench row assumes
    (leaderboard/comparability.py: no model selection on the test set, one prediction per frame) and the
    test-time augmentation; empty fields left out."""
    meta = {"name": name, "paper": paper, "code": code, "supervision": supervision, "training_data": training_data, "input_2d": input_2d}
    meta = {k: v.strip() for k, v in meta.items() if v and v.strip()}
    return {**meta, "model_selection_on_test": "no", "best_of": "1", "test_time_augmentation": tta}


def _check_form(name: str, not_test_selected: bool, single: bool) -> None:
    """A method name, and both protocol declarations confirmed; one-line BadInput otherwise."""
    if not name.strip():
        raise BadInput("Method name: required (it names your row once published)")
    if not (not_test_selected and single):
        raise BadInput("PoseBench ranks one prediction per frame from a model not chosen on the test set: confirm both declarations")


def submit(account_id: int, kind: str, upload, meta: dict, request: dict, max_bytes: int) -> int:  # noqa: ANN001 - an UploadedFile
    """Queue the upload; its size is checked before its bytes are read. One-line BadInput on any refusal."""
    from leaderboard import jobs

    if upload is None:
        raise BadInput(f"choose a {'.npz prediction file' if kind == 'file' else '.zip of the model folder'} to upload")
    if upload.size > max_bytes:
        raise BadInput(f"{upload.name}: {upload.size} bytes; uploads are capped at {max_bytes} bytes")
    return jobs.submit(writer_engine(), account_id, kind, upload.name, upload.getvalue(), meta, request)


def submit_page() -> None:
    """The form: what is uploaded, the method's metadata and protocol declarations, the benchmarks."""
    from leaderboard.jobs import MAX_UPLOAD_BYTES

    account = signed_in_or_stop()
    st.title("Submit")
    st.caption(f"Signed in as {account.name}. A submission stays private until you publish it on My submissions; a failed one stores nothing and does not count against your limits.")
    kind = st.radio("What to submit", list(KINDS), format_func=KINDS.get, horizontal=True, key="submit_kind")
    with st.form("submission"):
        upload = st.file_uploader(KINDS[kind], type=["npz"] if kind == "file" else ["zip"], key="upload", max_upload_size=max(1, MAX_UPLOAD_BYTES // 2**20))
        request: dict = {}
        if kind == "model":
            c_entry, c_data, c_2d = st.columns(3)
            request = {"entrypoint": c_entry.text_input("Entrypoint (file:factory in the folder)", "model.py:make", key="entrypoint"),
                       "dataset": c_data.selectbox("Dataset", DATASETS, key="dataset"), "input_2d": c_2d.text_input("2D input the model reads", "gt", key="model_input_2d")}
        c_name, c_sup = st.columns([2, 1])
        name = c_name.text_input("Method name", key="name", max_chars=200)
        supervision = c_sup.selectbox("Supervision", SUPERVISION, key="supervision")
        c_paper, c_code = st.columns(2)
        paper = c_paper.text_input("Paper link", key="paper", max_chars=500)
        code = c_code.text_input("Code link", key="code", max_chars=500)
        c_train, c_2d, c_tta = st.columns(3)
        training_data = c_train.text_input("Training data", key="training_data", max_chars=200, help="e.g. H36M S1,S5-S8 (2D only)")
        input_2d = request.get("input_2d") or c_2d.text_input("2D input (gt, cpn, sh, images, ...)", key="input_2d", max_chars=40)
        tta = c_tta.selectbox("Test-time augmentation", TTA, key="tta")
        benchmarks = st.multiselect("Benchmarks (none chosen: the dataset's standard ones)", list(BENCHMARKS), key="benchmarks")
        not_test_selected = st.checkbox("The model and its checkpoint were not chosen by their test-set score", key="decl_selection")
        single = st.checkbox("One prediction per frame (not the best of several seeds or hypotheses)", key="decl_best_of")
        sent = st.form_submit_button("Submit")
    if not sent:
        return
    try:
        _check_form(name, not_test_selected, single)
        check_method_name(writer_engine(), account, name)
        meta = build_meta(name, paper, code, supervision, training_data, input_2d, tta)
        job_id = submit(account.id, kind, upload, meta, {**request, **({"benchmarks": benchmarks} if benchmarks else {})}, MAX_UPLOAD_BYTES)
    except BadInput as exc:
        st.error(markdown_escape(str(exc)), icon="🚫")
        return
    st.success(f"Queued as job {job_id}: follow it on My submissions.")
    st.page_link("views_pages/mine.py", label="My submissions")
