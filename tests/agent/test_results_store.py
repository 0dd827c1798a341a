"""The provider's result store (computerails.agent.results): content-addressed files, written
atomically, checked on every read."""

from __future__ import annotations

import os

import pytest

from computerails.agent.results import ResultStore
from computerails.content import cid_for
from computerails.errors import ContentMismatch, ContentNotFound, InvalidCid


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "results")


def test_results_put_get__round_trip_by_cid(store):
    cid = store.put(b"result bytes")
    assert cid == cid_for(b"result bytes")
    assert store.has(cid)
    assert store.get(cid) == b"result bytes"
    assert (store.directory / cid).read_bytes() == b"result bytes"


def test_results_put__twice__one_file_no_temporaries(store):
    assert store.put(b"x") == store.put(b"x")
    assert sorted(os.listdir(store.directory)) == [cid_for(b"x")]


def test_results_put__write_fails__no_partial_file_left(store, monkeypatch):
    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"never complete")
    assert os.listdir(store.directory) == []
    assert not store.has(cid_for(b"never complete"))


def test_results_get__tampered_file__content_mismatch(store):
    cid = store.put(b"honest result")
    (store.directory / cid).write_bytes(b"edited result")
    with pytest.raises(ContentMismatch) as info:
        store.get(cid)
    assert info.value.expected == cid
    assert info.value.actual == cid_for(b"edited result")


def test_results_get__missing__content_not_found(store):
    cid = cid_for(b"never stored")
    assert not store.has(cid)
    with pytest.raises(ContentNotFound) as info:
        store.get(cid)
    assert info.value.cid == cid


@pytest.mark.parametrize("name", ["../etc/passwd", "bafy/../../x", ""])
def test_results_get__not_a_cid__refused_before_any_path(store, name):
    with pytest.raises(InvalidCid):
        store.get(name)
    with pytest.raises(InvalidCid):
        store.has(name)
