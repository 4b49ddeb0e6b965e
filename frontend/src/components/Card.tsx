import type { ReactNode } from 'react'

export function Card({ title, actions, children, id }: { title: string; actions?: ReactNode; children: ReactNode; id?: string }) {
    return (
        <section className="card" id={id} aria-label={title}>
            <header className="card-header">
                <h2>{title}</h2>
                {actions ? <div className="card-actions">{actions}</div> : null}
            </header>
            <div className="card-body">{children}</div>
        </section>
    )
}
