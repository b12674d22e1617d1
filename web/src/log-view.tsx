import { useEffect, useMemo, useRef, useState } from "react";
import Anser from "anser";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Api } from "./api.js";
import { Control } from "./ui.js";

interface LogLine {
  seq: number;
  stream: "STDOUT" | "STDERR" | "SYSTEM";
  at: string;
  text: string;
}

const LINE_HEIGHT = 20;
const LOG_SUBSCRIPTION = `subscription($id: ID!, $after: Int) {
  executionLog(executionId: $id, after: $after) { lines { seq stream at text } finished { status } }
}`;

/** One line's ANSI escapes as styled spans (anser parses; only visible lines are parsed). */
function AnsiText({ text, highlight }: { text: string; highlight: string }) {
  const parts = useMemo(() => Anser.ansiToJson(text, { use_classes: true, remove_empty: true }) as Anser.AnserJsonEntry[], [text]);
  return (
    <>
      {parts.map((p, i) => {
        const classes = [p.fg && `${p.fg}-fg`, p.bg && `${p.bg}-bg`, ...(p.decorations ?? []).map((d) => `ansi-${d}`)].filter(Boolean).join(" ");
        return (
          <span
            key={i}
            className={classes || undefined}
            style={p.fg_truecolor || p.bg_truecolor ? { color: p.fg_truecolor ? `rgb(${p.fg_truecolor})` : undefined, background: p.bg_truecolor ? `rgb(${p.bg_truecolor})` : undefined } : undefined}
          >
            {highlight ? <Highlighted text={p.content} needle={highlight} /> : p.content}
          </span>
        );
      })}
    </>
  );
}

function Highlighted({ text, needle }: { text: string; needle: string }) {
  const lower = text.toLowerCase();
  const out: React.ReactNode[] = [];
  let from = 0;
  for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, from)) {
    out.push(text.slice(from, i), <mark key={i}>{text.slice(i, i + needle.length)}</mark>);
    from = i + needle.length;
  }
  out.push(text.slice(from));
  return <>{out}</>;
}

/**
 * The live log: replayed and followed through `executionLog`, resumed after the last seq seen when
 * the socket comes back, and drawn as a virtualised list so 200,000 lines scroll smoothly.
 */
export function LogView({ api, executionId, onFinished }: { api: Api; executionId: string; onFinished: () => void }) {
  const lines = useRef<LogLine[]>([]);
  const plain = useRef<string[]>([]);
  const lastSeq = useRef(0);
  const [count, setCount] = useState(0);
  const [state, setState] = useState<"connecting" | "live" | "finished" | "error">("connecting");
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [timestamps, setTimestamps] = useState(false);
  const [search, setSearch] = useState("");
  const scroller = useRef<HTMLDivElement>(null);
  const needle = search.trim().toLowerCase();

  useEffect(() => {
    lines.current = [];
    plain.current = [];
    lastSeq.current = 0;
    setCount(0);
    let finished = false;
    let frame = 0;
    let stop: (() => void) | null = null;
    const start = () => {
      stop?.();
      stop = api.subscribe<{ executionLog: { lines: LogLine[]; finished: { status: string } | null } }>(
        LOG_SUBSCRIPTION,
        { id: executionId, after: lastSeq.current },
        {
          next: ({ executionLog }) => {
            setState("live");
            for (const line of executionLog.lines) {
              // A resubscription may replay what was already shown: seq says which lines are new.
              if (line.seq <= lastSeq.current) continue;
              lines.current.push(line);
              lastSeq.current = line.seq;
            }
            frame ||= requestAnimationFrame(() => {
              frame = 0;
              setCount(lines.current.length);
            });
            if (executionLog.finished) {
              finished = true;
              setState("finished");
              onFinished();
            }
          },
          error: (err) => {
            setState("error");
            setError(err.message);
          },
        },
      );
    };
    start();
    // graphql-ws would send the same subscription again on the next socket, replaying from the
    // first `after`: a fresh one asks for what follows the last line shown instead.
    const stopReconnect = api.onDrop(() => {
      if (!finished) start();
    });
    return () => {
      stop?.();
      stopReconnect();
      cancelAnimationFrame(frame);
    };
  }, [api, executionId]);

  // Indexes of the lines shown: all, or those matching the search.
  const shown = useMemo(() => {
    if (!needle) return null;
    const out: number[] = [];
    const all = lines.current;
    const texts = plain.current;
    // The text without escapes, lowercased, is worked out on the first search and kept.
    for (let i = 0; i < all.length; i++) {
      texts[i] ??= Anser.ansiToText(all[i].text).toLowerCase();
      if (texts[i].includes(needle)) out.push(i);
    }
    return out;
  }, [needle, count]);
  const total = shown ? shown.length : count;

  const virtualizer = useVirtualizer({ count: total, getScrollElement: () => scroller.current, estimateSize: () => LINE_HEIGHT, overscan: 30 });

  useEffect(() => {
    if (follow && total > 0) virtualizer.scrollToIndex(total - 1, { align: "end" });
  }, [follow, total]);

  // Scrolling up stops following; reaching the end again resumes it. Following itself only ever
  // scrolls down, and new lines only grow the list, so a smaller scrollTop is the reader's doing.
  const lastTop = useRef(0);
  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < LINE_HEIGHT * 2;
    if (el.scrollTop < lastTop.current - 1) setFollow(false);
    else if (atEnd) setFollow(true);
    lastTop.current = el.scrollTop;
  };

  const download = () => {
    const text = lines.current.map((l) => l.text).join("\n") + (lines.current.length ? "\n" : "");
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `execution-${executionId}.log`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <section className="log" aria-label="Log">
      <div className="log-toolbar">
        <h2>Log</h2>
        <span className={`live ${state === "live" ? "on" : ""}`} data-log-state={state}>
          {state === "live" ? "live" : state}
        </span>
        <span className="muted" data-log-count={count}>
          {count.toLocaleString()} lines{shown ? `, ${shown.length.toLocaleString()} matching` : ""}
        </span>
        <Control label="Search">
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="text in the log" />
        </Control>
        <label className="check">
          <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} /> Timestamps
        </label>
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <button type="button" onClick={download} disabled={count === 0}>
          Download raw log
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard to scroll it (WCAG 2.1.1) */}
      <div className="log-lines" ref={scroller} onScroll={onScroll} tabIndex={0} role="log" aria-label="Log lines" aria-live="off">
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const line = lines.current[shown ? shown[item.index] : item.index];
            if (!line) return null;
            return (
              <div
                key={line.seq}
                className={`line stream-${line.stream.toLowerCase()}`}
                data-seq={line.seq}
                style={{ position: "absolute", top: 0, left: 0, right: 0, height: LINE_HEIGHT, transform: `translateY(${item.start}px)` }}
              >
                <span className="seq">{line.seq}</span>
                {timestamps && <span className="ts">{new Date(line.at).toISOString().slice(11, 23)}</span>}
                {line.stream !== "STDOUT" && <span className="stream-tag">{line.stream === "STDERR" ? "err" : "sys"}</span>}
                <span className="text">
                  <AnsiText text={line.text} highlight={needle} />
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}
