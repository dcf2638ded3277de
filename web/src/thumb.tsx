// A server-made thumbnail, fetched with the key only once it scrolls into view,
// in a box of fixed aspect so the grid never reflows as images arrive. The <img>
// carries its size (the server's longest side), lazy loading and async decoding,
// so a page of 100 cards neither shifts nor decodes on the main thread.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useImage } from './api.js';

/** The server's thumbnail size (THUMBNAIL_SIZE in src/server/thumbnails.ts): the box's CSS scales it. */
const SIZE = 320;

/**
 * One IntersectionObserver for every thumbnail on the page, not one each: a
 * gallery of 100 made and dropped 300 of them, each computed every frame.
 */
const waiting = new Map<Element, () => void>();
let observer: IntersectionObserver | null = null;

function whenNear(el: Element, then: () => void): () => void {
  observer ??= new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const near = waiting.get(e.target);
      observer!.unobserve(e.target);
      waiting.delete(e.target);
      near?.();
    }
  }, { rootMargin: '200px' });
  waiting.set(el, then);
  observer.observe(el);
  return () => {
    waiting.delete(el);
    observer?.unobserve(el);
  };
}

export function Thumb({ url, alt, empty = 'no image' }: { url: string | null; alt: string; empty?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    const el = box.current;
    if (!el || !url) return;
    return whenNear(el, () => setVisible(true));
  }, [url]);
  const { src, error } = useImage(url, visible);
  return (
    <div class="thumb" ref={box}>
      {src ? <img src={src} alt={alt} width={SIZE} height={SIZE} loading="lazy" decoding="async" /> : <span class="placeholder">{!url ? empty : error ? 'unavailable' : ''}</span>}
    </div>
  );
}
