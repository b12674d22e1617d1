import { cloneElement, useId, useState } from "react";
import { Link } from "wouter";

export function StatusBadge({ status }: { status: string }) {
  // Colour plus the word, so the state never depends on colour alone.
  return <span className={`status status-${status.toLowerCase()}`}>{status.replace("_", " ").toLowerCase()}</span>;
}

export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span className="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s % 60)} s`;
}

/** Bytes in the unit a person reads: "512 bytes", "3.4 KiB", "37.7 MiB", "1.2 GiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 100 ? 1 : 0)} ${units[unit]}`;
}

export function ErrorBox({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {error}
    </p>
  );
}

/** JSON, collapsible, with a copy button. */
export function JsonBlock({ label, value, open = true }: { label: string; value: unknown; open?: boolean }) {
  const text = JSON.stringify(value, null, 2);
  const [copied, setCopied] = useState(false);
  return (
    <details className="json" open={open}>
      <summary>
        {label}
        <button
          type="button"
          className="small"
          onClick={(e) => {
            e.preventDefault();
            void navigator.clipboard?.writeText(text).then(() => {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            });
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </summary>
      <pre>{text}</pre>
    </details>
  );
}

export function ExecutionLink({ id, children }: { id: string; children?: React.ReactNode }) {
  return <Link href={`/executions/${id}`}>{children ?? id.slice(0, 8)}</Link>;
}

export function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

/** A form control with its own <label for>, so its accessible name is the label alone. */
export function Control({ label, children }: { label: string; children: React.ReactElement<{ id?: string }> }) {
  const id = useId();
  return (
    <div className="control">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id })}
    </div>
  );
}

/**
 * What a hook said to the user: plain text, never HTML (a `<b>` stays the characters it is), its
 * newlines kept (white-space: pre-wrap).
 */
export function HookText({ text }: { text: string }) {
  return <div className="hook-message-text">{text}</div>;
}
