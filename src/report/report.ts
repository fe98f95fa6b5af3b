/** The HTML report of any results document, by its kind. */
import type { AnyDocument } from '../stats/document.js';
import { renderRunHtml } from './html.js';
import { renderStressHtml, renderSweepHtml } from './html-campaign.js';

export function renderReport(doc: AnyDocument): string {
  switch (doc.kind) {
    case 'run':
      return renderRunHtml(doc as Extract<AnyDocument, { run: unknown }>);
    case 'stress':
      return renderStressHtml(doc as Extract<AnyDocument, { stress: unknown }>);
    case 'sweep':
      return renderSweepHtml(doc as Extract<AnyDocument, { axes: unknown }>);
  }
}
