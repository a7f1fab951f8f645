"""The store's key index and paging against a plain model, through random creates and deletes."""

from __future__ import annotations

import random

from bcs.sim.kube import resources, store


def test_paging_follows_a_model_through_churn() -> None:
    rt = resources.Registry().builtin("", "configmaps")
    st = store.Store()
    model: set[tuple[str, str]] = set()
    rnd = random.Random(3)
    for step in range(4000):
        key = (f"n{rnd.randrange(4)}", f"c{rnd.randrange(300)}")
        if key in model and rnd.random() < 0.45:
            st.remove(rt, *key, {"metadata": {"name": key[1], "namespace": key[0]}})
            model.discard(key)
        else:
            st.put(rt, {"metadata": {"name": key[1], "namespace": key[0], "labels": {"a": str(step % 3)}}})
            model.add(key)
        if step % 97:
            continue
        for ns in (None, "n1"):
            want = sorted(k for k in model if ns is None or k[0] == ns)
            got: list[tuple[str, str]] = []
            start = None
            while True:
                page, last, remaining = st.select(
                    rt, ns, start_after=start, limit=rnd.choice([1, 7, 50, 1000])
                )
                got += [(o.ns, o.name) for o in page]
                assert remaining == len(want) - len(got)
                if last is None:
                    break
                start = last
            assert got == want
            assert [(o.ns, o.name) for o in st.select(rt, ns)[0]] == want
            labelled = st.select(rt, ns, (("a", "=", ("1",)),))[0]
            assert [(o.ns, o.name) for o in labelled] == [
                k
                for k in want
                if (st.get(rt, *k).labels or {}).get("a") == "1"  # type: ignore[union-attr]
            ]
